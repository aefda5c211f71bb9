/* The arena planner (planner.c). Internal to the engine. */
#ifndef TFL_PLANNER_H
#define TFL_PLANNER_H

#include "tfl_engine.h"

/* Place every non-constant tensor and every node's scratch in the arena after the persistent area. */
tfl_status tfl_plan(tfl_interpreter *it);

#endif
