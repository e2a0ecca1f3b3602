"""The fixed world the generator draws from: categories and their prices, the planted personas,
states, cities and names, the product catalogue, and the column layouts of the files."""

from __future__ import annotations

from dataclasses import dataclass

from segment_report.pipeline import constants

CATEGORIES: tuple[str, ...] = ("Electronics", "Clothing", "Books", "Home Decor", "Grocery")
CATEGORY_BASE_PRICE: tuple[float, ...] = (120.0, 40.0, 18.0, 55.0, 12.0)


@dataclass(frozen=True)
class Persona:
    """Distribution parameters of one latent persona (see the package docstring)."""

    name: str
    weight: float
    age_mean: float
    age_sd: float
    orders_mean: float           # expected orders per customer in the window (>= 1)
    basket_mean: float           # expected items per order (>= 1)
    price_level: float           # multiplies CATEGORY_BASE_PRICE
    price_sigma: float           # lognormal noise of unit prices
    category_mix: tuple[float, ...]  # expected shares over CATEGORIES
    mix_concentration: float     # Dirichlet concentration around category_mix
    sentiment_mean: float
    sentiment_sd: float
    gender_probs: tuple[float, float, float]   # female, male, other
    income_probs: tuple[float, float, float]   # low, medium, high
    first_order: tuple[float, float]  # uniform range of the first order, as window fractions
    last_order: tuple[float, float]   # uniform range of the last order, as window fractions
    one_time_share: float = 0.05      # customers allowed a single order; the rest order >= 2
    lapse_share: float = 0.10         # customers who stop buying well before the end (see LAPSE_RANGE)


#: A persona whose last orders all fall before this window fraction has lapsed as a whole.
LAPSED_PERSONA_LAST_ORDER = 0.8
#: When the planted lapsers of the other personas place their last order (window fractions).
LAPSE_RANGE = (0.30, 0.70)


PERSONAS: tuple[Persona, ...] = (
    Persona("Young Fashion Regulars", 0.22, 26, 4, 6.0, 2.0, 0.8, 0.30,
            (0.01, 0.94, 0.01, 0.03, 0.01), 50, 0.72, 0.10, (0.70, 0.27, 0.03),
            (0.45, 0.45, 0.10), (0.0, 0.25), (0.90, 1.0)),
    Persona("Family Bulk Shoppers", 0.22, 41, 5, 5.0, 6.0, 0.9, 0.30,
            (0.01, 0.02, 0.01, 0.03, 0.93), 50, 0.55, 0.10, (0.58, 0.40, 0.02),
            (0.25, 0.60, 0.15), (0.0, 0.20), (0.88, 1.0)),
    Persona("Tech Enthusiasts", 0.18, 33, 5, 3.0, 1.2, 1.5, 0.30,
            (0.94, 0.02, 0.02, 0.01, 0.01), 50, 0.62, 0.10, (0.25, 0.72, 0.03),
            (0.10, 0.40, 0.50), (0.0, 0.40), (0.80, 1.0)),
    Persona("Lapsed Bargain Hunters", 0.19, 56, 7, 3.0, 3.0, 0.6, 0.35,
            (0.01, 0.93, 0.02, 0.02, 0.02), 50, 0.28, 0.10, (0.50, 0.48, 0.02),
            (0.60, 0.32, 0.08), (0.0, 0.10), (0.15, 0.45)),
    Persona("Affluent Home Lovers", 0.19, 67, 6, 3.5, 2.0, 1.8, 0.30,
            (0.01, 0.02, 0.03, 0.93, 0.01), 50, 0.85, 0.07, (0.60, 0.38, 0.02),
            (0.08, 0.32, 0.60), (0.0, 0.30), (0.85, 1.0)),
    Persona("Budget Bookworms", 0.15, 47, 6, 4.0, 3.5, 0.7, 0.30,
            (0.01, 0.02, 0.94, 0.02, 0.01), 50, 0.70, 0.10, (0.62, 0.35, 0.03),
            (0.35, 0.50, 0.15), (0.0, 0.30), (0.85, 1.0)),
    Persona("New Premium Shoppers", 0.15, 36, 5, 1.8, 1.6, 1.4, 0.30,
            (0.92, 0.04, 0.01, 0.02, 0.01), 50, 0.50, 0.10, (0.50, 0.47, 0.03),
            (0.10, 0.45, 0.45), (0.80, 0.95), (0.90, 1.0), 1.0),
)


GENDERS = ("Female", "Male", "Other")
INCOME_BANDS = tuple(band.title() for band in constants.INCOME_BANDS)  # the retail table's spelling
MEDIUM_INCOME, HIGH_INCOME = (int(edge) for edge in constants.INCOME_BAND_EDGES)
# Numeric income (tables mode) in US$ per year, each band inside ingest's band edges.
INCOME_RANGES = ((18_000, MEDIUM_INCOME), (MEDIUM_INCOME, HIGH_INCOME), (HIGH_INCOME, 250_000))
HIGH_SENTIMENT_STATES = ("MI", "OH", "IN")
LOW_SENTIMENT_STATES = ("GA", "NC", "SC")

# 2020 census resident population, millions.
STATE_POPULATION: dict[str, float] = {
    "CA": 39.54, "TX": 29.15, "FL": 21.54, "NY": 20.20, "PA": 13.00, "IL": 12.81, "OH": 11.80,
    "GA": 10.71, "NC": 10.44, "MI": 10.08, "NJ": 9.29, "VA": 8.63, "WA": 7.71, "AZ": 7.15,
    "MA": 7.03, "TN": 6.91, "IN": 6.79, "MD": 6.18, "MO": 6.15, "WI": 5.89, "CO": 5.77,
    "MN": 5.71, "SC": 5.12, "AL": 5.02, "LA": 4.66, "KY": 4.51, "OR": 4.24, "OK": 3.96,
    "CT": 3.61, "UT": 3.27, "IA": 3.19, "NV": 3.10, "AR": 3.01, "MS": 2.96, "KS": 2.94,
    "NM": 2.12, "NE": 1.96, "ID": 1.84, "WV": 1.79, "HI": 1.46, "NH": 1.38, "ME": 1.36,
    "RI": 1.10, "MT": 1.08, "DE": 0.99, "SD": 0.89, "ND": 0.78, "AK": 0.73, "DC": 0.69,
    "VT": 0.64, "WY": 0.58,
}


STATE_CITIES: dict[str, tuple[str, str]] = {
    "AL": ("Birmingham", "Huntsville"), "AK": ("Anchorage", "Fairbanks"),
    "AZ": ("Phoenix", "Tucson"), "AR": ("Little Rock", "Fayetteville"),
    "CA": ("Los Angeles", "San Diego"), "CO": ("Denver", "Colorado Springs"),
    "CT": ("Hartford", "New Haven"), "DE": ("Wilmington", "Dover"),
    "DC": ("Washington", "Washington"), "FL": ("Miami", "Orlando"),
    "GA": ("Atlanta", "Savannah"), "HI": ("Honolulu", "Hilo"), "ID": ("Boise", "Idaho Falls"),
    "IL": ("Chicago", "Springfield"), "IN": ("Indianapolis", "Fort Wayne"),
    "IA": ("Des Moines", "Cedar Rapids"), "KS": ("Wichita", "Topeka"),
    "KY": ("Louisville", "Lexington"), "LA": ("New Orleans", "Baton Rouge"),
    "ME": ("Portland", "Bangor"), "MD": ("Baltimore", "Annapolis"),
    "MA": ("Boston", "Worcester"), "MI": ("Detroit", "Grand Rapids"),
    "MN": ("Minneapolis", "Saint Paul"), "MS": ("Jackson", "Gulfport"),
    "MO": ("Kansas City", "St. Louis"), "MT": ("Billings", "Missoula"),
    "NE": ("Omaha", "Lincoln"), "NV": ("Las Vegas", "Reno"), "NH": ("Manchester", "Concord"),
    "NJ": ("Newark", "Jersey City"), "NM": ("Albuquerque", "Santa Fe"),
    "NY": ("New York", "Buffalo"), "NC": ("Charlotte", "Raleigh"), "ND": ("Fargo", "Bismarck"),
    "OH": ("Columbus", "Cleveland"), "OK": ("Oklahoma City", "Tulsa"),
    "OR": ("Portland", "Eugene"), "PA": ("Philadelphia", "Pittsburgh"),
    "RI": ("Providence", "Warwick"), "SC": ("Charleston", "Columbia"),
    "SD": ("Sioux Falls", "Rapid City"), "TN": ("Nashville", "Memphis"),
    "TX": ("Houston", "Austin"), "UT": ("Salt Lake City", "Provo"),
    "VT": ("Burlington", "Montpelier"), "VA": ("Virginia Beach", "Richmond"),
    "WA": ("Seattle", "Spokane"), "WV": ("Charleston", "Morgantown"),
    "WI": ("Milwaukee", "Madison"), "WY": ("Cheyenne", "Casper"),
}


# First ZIP digit by state (USPS national areas).
ZIP_AREA: dict[str, int] = {
    **dict.fromkeys(("CT", "MA", "ME", "NH", "NJ", "RI", "VT"), 0),
    **dict.fromkeys(("DE", "NY", "PA"), 1),
    **dict.fromkeys(("DC", "MD", "NC", "SC", "VA", "WV"), 2),
    **dict.fromkeys(("AL", "FL", "GA", "MS", "TN"), 3),
    **dict.fromkeys(("IN", "KY", "MI", "OH"), 4),
    **dict.fromkeys(("IA", "MN", "MT", "ND", "SD", "WI"), 5),
    **dict.fromkeys(("IL", "KS", "MO", "NE"), 6),
    **dict.fromkeys(("AR", "LA", "OK", "TX"), 7),
    **dict.fromkeys(("AZ", "CO", "ID", "NM", "NV", "UT", "WY"), 8),
    **dict.fromkeys(("AK", "CA", "HI", "OR", "WA"), 9),
}


# country -> (share among non-US customers, {region: (share, cities)})
FOREIGN: dict[str, tuple[float, dict[str, tuple[float, tuple[str, ...]]]]] = {
    "UK": (0.35, {"England": (0.84, ("London", "Manchester", "Birmingham", "Leeds", "Bristol")),
                  "Scotland": (0.08, ("Edinburgh", "Glasgow")),
                  "Wales": (0.05, ("Cardiff", "Swansea")),
                  "Northern Ireland": (0.03, ("Belfast", "Derry"))}),
    "Germany": (0.25, {"Bavaria": (0.25, ("Munich", "Nuremberg")),
                       "Berlin": (0.15, ("Berlin",)),
                       "North Rhine-Westphalia": (0.30, ("Cologne", "Düsseldorf")),
                       "Hesse": (0.12, ("Frankfurt", "Wiesbaden")),
                       "Baden-Württemberg": (0.18, ("Stuttgart", "Karlsruhe"))}),
    "Canada": (0.25, {"Ontario": (0.45, ("Toronto", "Ottawa")),
                      "Quebec": (0.25, ("Montreal", "Quebec City")),
                      "British Columbia": (0.17, ("Vancouver", "Victoria")),
                      "Alberta": (0.13, ("Calgary", "Edmonton"))}),
    "Australia": (0.15, {"New South Wales": (0.38, ("Sydney", "Newcastle")),
                         "Victoria": (0.33, ("Melbourne", "Geelong")),
                         "Queensland": (0.20, ("Brisbane", "Gold Coast")),
                         "Western Australia": (0.09, ("Perth", "Fremantle"))}),
}


FIRST_NAMES = {
    "Female": ("Maria", "Emma", "Olivia", "Sophia", "Ava", "Isabella", "Mia", "Charlotte",
               "Amelia", "Harper", "Evelyn", "Abigail", "Emily", "Elizabeth", "Sofia", "Avery",
               "Ella", "Scarlett", "Grace", "Chloe", "Victoria", "Riley", "Aria", "Lily",
               "Zoey", "Hannah", "Nora", "Layla", "Priya", "Mei", "Aisha", "Fatima", "Keisha",
               "Rosa", "Ana", "Lucia", "Jennifer", "Linda", "Patricia", "Susan", "Karen",
               "Nancy", "Laura", "Megan", "Rachel", "Julia", "Hye-jin", "Yuki", "Ngozi"),
    "Male": ("James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph",
             "Thomas", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul",
             "Andrew", "Joshua", "Kevin", "Brian", "George", "Ethan", "Liam", "Noah", "Lucas",
             "Mason", "Logan", "Jacob", "Carlos", "Jose", "Luis", "Juan", "Wei", "Raj",
             "Arjun", "Omar", "Ahmed", "Kwame", "Hiroshi", "Min-jun", "Dmitri", "Ivan",
             "Tyrone", "Marcus", "Sean", "Patrick", "Samuel", "Aaron", "Diego"),
    "Other": ("Alex", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Riley", "Quinn",
              "Avery", "Skyler", "Rowan", "Sage", "River", "Charlie", "Emerson", "Finley"),
}


LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
              "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
              "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
              "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
              "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
              "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Wang", "Singh",
              "Okafor", "Mensah", "Kowalski", "Novak", "Schmidt", "Muller", "O'Brien",
              "Murphy", "Kelly", "Sullivan", "Cohen", "Rossi", "Silva", "Santos", "Tanaka",
              "Yamamoto", "Park", "Choi", "Ali", "Khan", "Hughes", "Evans", "Price", "Bennett",
              "Wood", "Brooks", "Reed", "Cooper", "Ward", "Peterson", "Gray", "James",
              "Watson", "Ruiz", "Diaz", "Ortiz", "Morales", "Reyes", "Cruz", "Foster")


STREETS = ("Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
           "Main", "Church", "High", "Walnut", "Sunset", "Willow", "Lincoln", "Jackson",
           "River", "Spring", "Meadow", "Forest", "Highland", "Chestnut", "Cherry", "Mill",
           "Franklin", "Madison", "Ridge", "Valley", "Birch", "Station", "Victoria", "King",
           "Queen", "Garden", "Orchard", "Harbor", "Prospect", "Jefferson", "Bay")


STREET_TYPES = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Boulevard", "Way",
                "Place", "Terrace")


EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

# category -> (brands, {product type: products})
CATALOGUE: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "Electronics": (("Samsung", "Sony", "Apple", "Lenovo", "Anker", "Bose"),
                    {"Smartphone": ("Galaxy A55", "iPhone 15", "Pixel 8"),
                     "Headphones": ("Noise-cancelling headphones", "Wireless earbuds",
                                    "Studio headphones"),
                     "Tablet": ("10-inch tablet", "Kids tablet", "Drawing tablet"),
                     "Smartwatch": ("Fitness smartwatch", "GPS running watch", "Smart band"),
                     "Accessories": ("USB-C charger", "Power bank", "Bluetooth speaker")}),
    "Clothing": (("Zara", "H&M", "Levi's", "Nike", "Adidas", "Uniqlo"),
                 {"Dress": ("Wrap dress", "Maxi dress", "Shirt dress"),
                  "Jeans": ("Slim jeans", "Straight-leg jeans", "Mom jeans"),
                  "Jacket": ("Denim jacket", "Rain jacket", "Puffer jacket"),
                  "Sweater": ("Cashmere sweater", "Cardigan", "Crew-neck sweater"),
                  "Top": ("Silk blouse", "Striped tee", "Linen shirt")}),
    "Books": (("Penguin Books", "HarperCollins", "Random House", "Simon & Schuster",
               "Macmillan"),
              {"Fiction": ("Literary novel", "Short stories", "Historical novel"),
               "Mystery": ("Detective novel", "Thriller", "Crime novel"),
               "Non-Fiction": ("Biography", "Popular science", "History book"),
               "Cookbook": ("Baking cookbook", "Vegetarian cookbook", "Weeknight recipes"),
               "Children": ("Picture book", "Young adult novel", "Activity book")}),
    "Home Decor": (("IKEA", "West Elm", "Pottery Barn", "Wayfair", "HomeGoods"),
                   {"Lighting": ("Table lamp", "Floor lamp", "String lights"),
                    "Textiles": ("Throw pillow", "Wool rug", "Duvet cover"),
                    "Wall Art": ("Framed print", "Wall mirror", "Canvas art"),
                    "Kitchen": ("Ceramic vase", "Serving bowl", "Cutting board"),
                    "Furniture": ("Side table", "Bookshelf", "Accent chair")}),
    "Grocery": (("Nestle", "Kellogg's", "Kraft", "PepsiCo", "Organic Valley"),
                {"Snacks": ("Granola bars", "Trail mix", "Potato chips"),
                 "Beverages": ("Ground coffee", "Green tea", "Sparkling water"),
                 "Pantry": ("Olive oil", "Pasta sauce", "Basmati rice"),
                 "Breakfast": ("Oat cereal", "Maple syrup", "Peanut butter"),
                 "Dairy": ("Greek yogurt", "Cheddar cheese", "Oat milk")}),
}


SHIPPING = (("Standard", 0.5), ("Express", 0.3), ("Same-Day", 0.2))
PAYMENT = (("Credit Card", 0.4), ("Debit Card", 0.25), ("PayPal", 0.25), ("Cash", 0.1))
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


RETAIL_COLUMNS: tuple[str, ...] = (
    "Transaction_ID", "Customer_ID", "Name", "Email", "Phone", "Address", "City", "State",
    "Zipcode", "Country", "Age", "Gender", "Income", "Customer_Segment", "Date", "Year",
    "Month", "Time", "Total_Purchases", "Amount", "Total_Amount", "Product_Category",
    "Product_Brand", "Product_Type", "Feedback", "Shipping_Method", "Payment_Method",
    "Order_Status", "Ratings", "products",
)


CUSTOMER_COLUMNS = ("customer_id", "name", "email", "phone", "address", "city", "zipcode",
                    "state", "country", "age", "gender", "income")


TRANSACTION_COLUMNS = ("transaction_id", "customer_id", "date", "quantity", "amount", "total",
                       "category")


REVIEW_COLUMNS = ("review_id", "customer_id", "date", "text", "rating")
