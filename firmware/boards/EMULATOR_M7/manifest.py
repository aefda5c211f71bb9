# The emulated board: the common firmware content plus the boot script that mounts /flash.
include("../../manifest.py")
freeze("$(BOARD_DIR)/modules", "_boot.py")
