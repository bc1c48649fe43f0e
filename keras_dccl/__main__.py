import sys

from keras_dccl.cli import main

sys.exit(main())
