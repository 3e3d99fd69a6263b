/// The record of requests, in-flight counts and their peaks; owned by ``ServerState``.
struct RequestRecorder: Sendable {
    /// Whether to keep a ``RecordedRequest`` per request, or only the counts.
    let keepsRecords: Bool
    private(set) var records: [RecordedRequest] = []
    /// The id of `records[0]`; records before it were dropped by ``reset()``.
    private var firstID = 0
    private(set) var nextID = 0
    private(set) var inFlight = 0
    private(set) var peakInFlight = 0
    private var inFlightByTag: [String: Int] = [:]
    private(set) var peakInFlightByTag: [String: Int] = [:]
    /// Ids in flight, with their tags, so a request finishing after ``reset()`` is still counted down.
    private var tagsInFlight: [Int: [String]] = [:]
    private(set) var statusCounts: [Int: Int] = [:]

    init(keepsRecords: Bool) {
        self.keepsRecords = keepsRecords
    }

    /// Records a request's arrival and counts it in flight.
    mutating func begin(
        method: String,
        path: String,
        headers: [String: String],
        body: [UInt8]?,
        json: TestJSON?,
        model: String?,
        isStream: Bool,
        tags: [String],
        arrival: ContinuousClock.Instant,
        handling: RecordedRequest.Handling
    ) -> Int {
        let id = nextID
        nextID += 1
        if keepsRecords {
            records.append(
                RecordedRequest(
                    id: id, method: method, path: path, headers: headers, body: body, json: json, model: model,
                    isStream: isStream, tags: tags, arrival: arrival, completion: nil, status: nil, handling: handling,
                    wasDropped: false
                )
            )
        }
        inFlight += 1
        peakInFlight = max(peakInFlight, inFlight)
        for tag in tags {
            let count = inFlightByTag[tag, default: 0] + 1
            inFlightByTag[tag] = count
            peakInFlightByTag[tag] = max(peakInFlightByTag[tag, default: 0], count)
        }
        tagsInFlight[id] = tags
        return id
    }

    /// Changes how a recorded request is being handled (decided after its arrival was recorded).
    mutating func setHandling(_ handling: RecordedRequest.Handling, id: Int) {
        let index = id - firstID
        guard records.indices.contains(index) else { return }
        records[index].handling = handling
    }

    /// Records the end of a request and counts it out of flight; a second call for one id is ignored.
    mutating func finish(id: Int, status: Int?, wasDropped: Bool, at instant: ContinuousClock.Instant) {
        guard let tags = tagsInFlight.removeValue(forKey: id) else { return }
        inFlight -= 1
        for tag in tags { inFlightByTag[tag, default: 1] -= 1 }
        if let status { statusCounts[status, default: 0] += 1 }
        let index = id - firstID
        guard records.indices.contains(index) else { return }
        records[index].completion = instant
        records[index].status = status
        records[index].wasDropped = wasDropped
    }

    /// Forgets every record, status count and peak; requests still in flight keep counting
    /// toward the new peaks.
    mutating func reset() {
        firstID = nextID
        records.removeAll()
        statusCounts.removeAll()
        peakInFlight = inFlight
        peakInFlightByTag = inFlightByTag.filter { $0.value > 0 }
    }
}
