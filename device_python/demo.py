# A short, self-contained demo: ten random test digits through the model, each shown on this board's display
# (the DISCO's LCD, the emulator's frame buffer, or none) and printed on the console.
#   mpremote run device_python/demo.py
import mnist

mnist.run(count=10, delay_ms=300)
