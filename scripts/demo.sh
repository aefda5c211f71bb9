#!/usr/bin/env bash
# The README's main command: set this machine up, then show the whole system working on the emulated board.
# It trains a quick model (cached: a second run reuses it), converts it to int8 .tflite, exports it with 100 test
# digits, starts the emulated STM32F746G-DISCO (QEMU), pushes the model and digits to its /flash (the app is
# frozen into its firmware), runs the demo there with the board's output live, and saves a picture of the board's
# LCD (the path is printed).
# Extra arguments go to `mpy-mnist train-and-push` (see `python3 -m mpy_mnist train-and-push --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"  # TensorFlow's C++ start-up chatter hides the demo's output
python3 -m mpy_mnist train-and-push --port emulator --epochs 2 --train-subset 20000 "$@"
