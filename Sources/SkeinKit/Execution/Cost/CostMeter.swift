import Foundation
import Synchronization

/// What a run spends, request by request: the total and each step's for the summary, the
/// models that had no price, and, under `--max-cost`, the budget every request reserves
/// from before it starts (`BudgetLedger`).
///
/// Only replies from the provider cost anything: a reply from the store costs this run
/// nothing. One meter per run, shared by every dataset row. A lock, not an actor: every
/// request takes it twice, and an actor would cost each a hop.
public final class CostMeter: Sendable {
    /// The spend so far.
    public struct Spend: Sendable, Hashable {
        /// USD of the priced replies.
        public var total = 0.0
        /// USD by step (summed over `for_each` items and dataset rows).
        public var byStep: [String: Double] = [:]
        /// `provider/model` of replies that had no price: the total leaves them out.
        public var unpriced: Set<String> = []
        /// Steps with a reply that had no price.
        public var unpricedSteps: Set<String> = []
        /// The budget, when there is one.
        public var budget: Double?
        /// Set once the budget refused a request.
        public var refusal: BudgetLedger.Refusal?

        /// Whether every reply was priced, so `total` is the whole cost.
        public var isComplete: Bool { unpriced.isEmpty }

        /// What a step cost; nil when a reply of it had no price.
        public func cost(of step: String) -> Double? {
            unpricedSteps.contains(step) ? nil : byStep[step] ?? 0
        }
    }

    /// A held reservation; give it back with `settle`.
    public struct Reservation: Sendable {
        let amount: Double
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var spend = Spend()
        var ledger: BudgetLedger?
        var waiters: [Waiter] = []
        var nextID = 0
        /// Counts settlements, so a request that decided to wait sees one that came before it
        /// was queued.
        var settlements = 0
    }

    private let state: Mutex<State>
    /// USD the run may spend (`--max-cost`); nil for no limit.
    public let budget: Double?

    /// - Parameter budget: USD the run may spend (`--max-cost`); nil for no limit.
    public init(budget: Double? = nil) {
        self.budget = budget
        var initial = State()
        initial.ledger = budget.map(BudgetLedger.init(budget:))
        initial.spend.budget = budget
        state = Mutex(initial)
    }

    /// The spend so far.
    public var spend: Spend { state.withLock { $0.spend } }

    /// Whether the budget refused a request: nothing more starts.
    public var isExhausted: Bool { state.withLock { $0.ledger?.refusal != nil } }


    /// Reserves `amount` USD for a request about to start, waiting while requests in flight
    /// may free enough. Without a budget it returns at once.
    /// - Throws: `BudgetExceeded` when the budget cannot take the request; `CancellationError`.
    public func reserve(_ amount: Double) async throws -> Reservation {
        guard budget != nil else { return Reservation(amount: 0) }
        while true {
            let (decision, settlements) = state.withLock { state -> (BudgetLedger.Decision?, Int) in
                guard state.ledger != nil else { return (nil, 0) }
                let decision = state.ledger!.reserve(amount)
                if case .refuse(let refusal) = decision { state.spend.refusal = refusal }
                return (decision, state.settlements)
            }
            switch decision {
            case nil: return Reservation(amount: 0)
            case .start: return Reservation(amount: amount)
            case .refuse(let refusal):
                // Whoever waits now is refused too.
                wakeAll()
                throw BudgetExceeded(budget: budget ?? 0, spent: refusal.spent, needed: refusal.needed)
            case .wait:
                try await waitForSettle(after: settlements)
            }
        }
    }

    /// A request ended: its reservation is given back and what it cost is counted.
    /// - Parameters:
    ///   - cost: USD of the reply; nil when it had no price (`label`, `provider/model`, is
    ///     then listed as unpriced; under a budget the reservation is counted instead).
    ///   - step: the step it belongs to.
    public func settle(_ reservation: Reservation, cost: Double?, step: String, label: @autoclosure () -> String) {
        // Built only for a reply with no price.
        let label = cost == nil && budget == nil ? label() : ""
        state.withLock { state in
            let counted = cost ?? (state.ledger != nil ? reservation.amount : 0)
            state.ledger?.settle(reserved: reservation.amount, cost: counted)
            state.settlements += 1
            if cost == nil && state.ledger == nil {
                state.spend.unpriced.insert(label)
                state.spend.unpricedSteps.insert(step)
            } else {
                state.spend.total += counted
                state.spend.byStep[step, default: 0] += counted
            }
        }
        if budget != nil { wakeAll() }
    }

    /// Gives a reservation back for a request that cost nothing (it failed before a reply).
    public func release(_ reservation: Reservation) {
        state.withLock { state in
            state.ledger?.settle(reserved: reservation.amount, cost: 0)
            state.settlements += 1
        }
        wakeAll()
    }

    private func wakeAll() {
        let waiters = state.withLock { state -> [Waiter] in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Waits until a request in flight settles (or the budget is spent).
    /// - Parameter settlements: the count when the caller decided to wait.
    private func waitForSettle(after settlements: Int) async throws {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    // Settled since the decision to wait: ask again at once.
                    guard state.settlements == settlements, let ledger = state.ledger, ledger.inFlight > 0, ledger.refusal == nil
                    else { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let removed = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}

/// A request the budget (`--max-cost`) cannot take: the run stops as failed, keeping what
/// finished; a re-run with a higher budget continues, taking finished replies from the store.
public struct BudgetExceeded: Error, Sendable, Hashable, CustomStringConvertible {
    /// USD the run could spend.
    public var budget: Double
    /// USD spent when the request was refused.
    public var spent: Double
    /// USD the refused request could have cost.
    public var needed: Double

    public var description: String {
        "budget: the next request could cost up to \(CostFormat.usd(needed)) and \(CostFormat.usd(spent)) of --max-cost "
            + "\(CostFormat.usd(budget)) is spent; raise --max-cost and run again to continue (what finished is stored)"
    }
}

/// How USD amounts are written: `$0` for nothing, six decimals under a hundredth of a cent,
/// four under $100 (a budget is spent in steps of a fraction of a cent: "$2.50 of $2.50"
/// would hide what is left), two above.
public enum CostFormat {
    public static func usd(_ amount: Double) -> String {
        if amount == 0 { return "$0" }
        if amount < 0.0001 { return String(format: "$%.6f", amount) }
        if amount < 100 { return String(format: "$%.4f", amount) }
        return String(format: "$%.2f", amount)
    }
}
