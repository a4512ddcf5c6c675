import sys

from app.simulators.gocardless.cli import main

sys.exit(main())
