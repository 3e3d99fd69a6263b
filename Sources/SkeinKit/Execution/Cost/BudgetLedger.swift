/// The arithmetic of `--max-cost`, as a value (the state machine `CostMeter` drives): what is
/// spent, what the requests in flight may still cost, and whether the next one may start.
///
/// A request reserves the most it could cost before it starts and gives the reservation back
/// for what it really cost when it ends. A request that does not fit waits while others are
/// in flight (their replies usually cost less than they reserved); when nothing is in flight
/// and it still does not fit, the budget is spent: that request and every later one is
/// refused. So the spend never passes the budget, and a run stops less than one request's
/// reservation short of it.
public struct BudgetLedger: Sendable, Hashable {
    /// USD the run may spend (`--max-cost`).
    public let budget: Double
    /// USD the finished requests cost.
    public private(set) var spent = 0.0
    /// USD the requests in flight reserved.
    public private(set) var reserved = 0.0
    /// Requests in flight.
    public private(set) var inFlight = 0
    /// Set when a request was refused: nothing starts any more.
    public private(set) var refusal: Refusal?

    /// Why a request may not start.
    public struct Refusal: Sendable, Hashable {
        /// What the refused request reserved.
        public var needed: Double
        /// What was spent when it was refused.
        public var spent: Double
    }

    public enum Decision: Sendable, Hashable {
        /// Start the request; its reservation is held.
        case start
        /// Wait for a request in flight to end, then ask again.
        case wait
        /// The budget cannot take it, with nothing in flight to free some: stop.
        case refuse(Refusal)
    }

    public init(budget: Double) {
        self.budget = budget
    }

    /// Whether a request that may cost `amount` can start.
    public mutating func reserve(_ amount: Double) -> Decision {
        if let refusal { return .refuse(refusal) }
        // A rounding error of a millionth of a cent is not worth stopping a run for.
        if spent + reserved + amount <= budget + 1e-9 {
            reserved += amount
            inFlight += 1
            return .start
        }
        if inFlight > 0 { return .wait }
        let refusal = Refusal(needed: amount, spent: spent)
        self.refusal = refusal
        return .refuse(refusal)
    }

    /// A request that reserved `amount` ended, having cost `cost`.
    public mutating func settle(reserved amount: Double, cost: Double) {
        reserved = max(0, reserved - amount)
        inFlight = max(0, inFlight - 1)
        spent += max(0, cost)
    }
}
