import NIOCore
import Synchronization

/// Which connections carried requests and over which protocol: an HTTP/1.1 request arrives
/// on the connection's channel, whose parent is the listening channel; an HTTP/2 request on a
/// stream channel, whose parent is the connection and grandparent the listening channel.
/// Lets a test see that a client multiplexed its requests (``SkeinTestServer/connectionsUsed``).
///
/// A lock rather than the server's actor: it is noted on every request, and a benchmark's
/// server should not pay a hop for it.
final class ConnectionLedger: Sendable {
    private struct Counts {
        var connections = Set<ObjectIdentifier>()
        var http2Requests = 0
    }

    private let counts = Mutex(Counts())

    func note(_ channel: any Channel) {
        let isHTTP2 = channel.parent?.parent != nil
        let connection = isHTTP2 ? channel.parent ?? channel : channel
        counts.withLock {
            $0.connections.insert(ObjectIdentifier(connection))
            if isHTTP2 { $0.http2Requests += 1 }
        }
    }

    var connections: Int { counts.withLock { $0.connections.count } }
    var http2Requests: Int { counts.withLock { $0.http2Requests } }
    func reset() { counts.withLock { $0 = Counts() } }
}
