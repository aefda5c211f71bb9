# The DISCO board: MicroPython's asyncio (in the source tree itself), then the common firmware content.
# The stm32 port's own boards/manifest.py is left out: it pulls dht and onewire from micropython-lib.
include("$(MPY_DIR)/extmod/asyncio")
include("../../manifest.py")
