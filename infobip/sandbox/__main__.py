"""`python -m infobip.sandbox --port 9100`: run the Infobip sandbox."""

import sys

from infobip.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
