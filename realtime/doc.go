// Package realtime will hold live delivery: the WebSocket hub and connections, the outbox
// dispatcher, the in-process and Redis Streams brokers, and the stream consumer with its reorder
// buffer. Today every change already writes its event and an outbox row in the same transaction
// (see server.appendEvent), so nothing committed before the dispatcher exists will be missed.
package realtime
