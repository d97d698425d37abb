// Package realtime delivers committed events to WebSocket connections: the outbox Dispatcher
// publishes them through a Publisher (the in-process LocalBroker on one node, Redis Streams
// between nodes), and each node's Hub puts every conversation back in seq order and hands its
// events, exactly once, to the connections of its members, which resume from their cursors after
// a reconnect.
package realtime
