// SPDX-License-Identifier: GPL-2.0
/*
 * The one place the Xen personality's tracepoints (trace.h) are defined;
 * every other file includes trace.h to emit them.
 */
#define CREATE_TRACE_POINTS
#include "trace.h"
