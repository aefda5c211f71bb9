"""mpy-mnist: train an MNIST model on the host and run it inside MicroPython on the STM32F746G-DISCO."""

__version__ = "0.1.0"
