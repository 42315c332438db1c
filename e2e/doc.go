// Package e2e holds end-to-end tests of sente against real peers: an in-process
// gateway serves its own ready page to a headless Chromium that runs Scittle (the
// npm scittle package, served by the gateway from /scittle/) and the stock
// scittle.nrepl.js runtime, while editors talk nREPL to it over TCP from both
// sente's Go client and the reference nrepl.core client on the JVM; the tests cover
// values, errors, namespaces, completion, load-file, colliding request ids from
// parallel editors, a page closed or crashed mid-eval, no runtime at all, and
// WebSocket origin checks. The package has no code of its own, only tests; peers
// come from internal/peers (scripts/setup installs them), and a missing peer fails
// under CI=true.
package e2e
