// Package wsconn is the server side of a WebSocket connection, as sente's
// gateway holds thousands of them: a Conn is read by its owner's one read
// loop (frames read from the socket here, not through gorilla, so an idle
// connection parks on a small stack with no buffer) and written by one
// writer fed by a bounded queue, which runs only while frames wait, may join
// queued events into one sente batch frame, and behind a CorkListener sends
// many frames per system call. A peer that lets its queue fill is refused the
// send or closed as a slow consumer; every close carries a CloseState to
// count by and a reason for people. Liveness is the single ticker that pings
// quiet peers and closes silent ones. The protocols spoken over the frames
// are the gateway's business, not this package's.
package wsconn
