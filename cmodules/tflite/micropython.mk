# The tflite user C module (make-based ports): the binding and its registration, plus the engine's sources as engine/sources.txt lists
# them, the one list every builder reads (LIB_C: compiled, not scanned for qstrs). kernels/arm/*.c: Cortex-M
# DSP variants, chosen at compile time by kernels/registry.c.
TFLITE_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD += $(TFLITE_MOD_DIR)/modtflite.c $(TFLITE_MOD_DIR)/tflite_builtin.c
SRC_USERMOD_LIB_C += $(addprefix $(TFLITE_MOD_DIR)/engine/,$(shell cat $(TFLITE_MOD_DIR)/engine/sources.txt))

CFLAGS_USERMOD += -I$(TFLITE_MOD_DIR)

# Float kernels must round each product and each sum as the reference kernels do to match TFLM bit for bit; under
# -std=gnu99 GCC would fuse a*b+c into one VFMA on the Cortex-M7 FPU. Only this module's objects (the port builds
# them as $(BUILD)/tflite/...): CFLAGS_USERMOD would put the flag on every MicroPython file.
$(BUILD)/$(notdir $(TFLITE_MOD_DIR))/%.o: CFLAGS += -ffp-contract=off
