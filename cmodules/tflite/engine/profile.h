/* Region markers for the instruction-counting QEMU plugin (tools/qemu-insn-plugin): the guest says "what runs
 * from now on belongs to region r" (0 = not measured) by a one-byte store the plugin watches. On the ARM build it
 * costs a call and a store; elsewhere it is nothing. */
#ifndef TFL_PROFILE_H
#define TFL_PROFILE_H

#if defined(__arm__)
void tfl_profile_mark(unsigned region);
#else
static inline void tfl_profile_mark(unsigned region) {
    (void)region;
}
#endif

#endif
