"""Everything that touches the run folder: its typed contract (``schema``), the store that
reads and writes it (``store``), and publishing a finished run atomically (``publish``).
Stages never do I/O; the runner hands them what the store read and saves what they return."""
