extension Duration {
    /// The duration in seconds, as a `Double` (for rates, display and JSON).
    ///
    /// One helper instead of the copies that each file had written out from `components`.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
