#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug test host kernel: scripts/kernel-build.sh debug (see there).
exec "$(dirname "$0")/kernel-build.sh" debug "$@"
