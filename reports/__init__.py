"""segment-report presentation: view models, charts, HTML site, Quarto project, PDFs, e-mail.

Reports read a run's ``results/`` folder and never recompute a number.
"""
