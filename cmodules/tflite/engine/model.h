/* The flatbuffer reader (model.c). Internal to the engine. */
#ifndef TFL_MODEL_H
#define TFL_MODEL_H

#include "tfl_engine.h"

/* Read and validate it->model into tensors and nodes in the persistent area. */
tfl_status tfl_model_read(tfl_interpreter *it);

#endif
