/* eddy.h - the C binding of SPEC.md: include this one header.
 *
 * Every declaration under eddy/ is normative: any C implementation of the
 * specification provides exactly these symbols with these contracts.
 */
#ifndef EDDY_H
#define EDDY_H

#include "eddy/errors.h"
#include "eddy/loop.h"
#include "eddy/handler.h"
#include "eddy/callback.h"
#include "eddy/timeout.h"
#include "eddy/future.h"
#include "eddy/periodic.h"
#include "eddy/process.h"
#include "eddy/subprocess.h"
#include "eddy/server.h"

#endif /* EDDY_H */
