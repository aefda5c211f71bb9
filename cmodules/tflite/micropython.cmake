# The tflite user C module (cmake-based ports): the binding and its registration, plus every engine and kernel
# source, found by glob so a new kernel file needs no edit here (re-run cmake after adding one).
add_library(usermod_tflite INTERFACE)

file(GLOB TFLITE_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/engine/*.c
    ${CMAKE_CURRENT_LIST_DIR}/engine/kernels/*.c
    ${CMAKE_CURRENT_LIST_DIR}/engine/kernels/arm/*.c
)

target_sources(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modtflite.c
    ${CMAKE_CURRENT_LIST_DIR}/tflite_builtin.c
    ${TFLITE_ENGINE_SOURCES}
)

target_include_directories(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

# Float kernels must round each product and each sum as the reference kernels do (no fused multiply-add). On these
# sources only: an INTERFACE option of usermod_tflite would reach every file of the firmware that links it. (The
# port includes this file into its own directory, where its firmware target sees the source properties.)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/modtflite.c ${CMAKE_CURRENT_LIST_DIR}/tflite_builtin.c
    ${TFLITE_ENGINE_SOURCES}
    PROPERTIES COMPILE_OPTIONS -ffp-contract=off)

target_link_libraries(usermod INTERFACE usermod_tflite)
