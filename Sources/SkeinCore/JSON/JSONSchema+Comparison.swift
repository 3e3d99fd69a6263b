/// Number and value comparison as JSON Schema defines it, which is not `JSONValue`'s `==`:
/// `1` equals `1.0`, `true` is not `1`, object key order does not matter, and strings
/// compare by code points (Swift's `String` equates `"é"` and `"e\u{301}"`).
extension JSONSchema {
    /// A number from a schema or an instance, kept exact: integers are not rounded through `Double`.
    enum Number: Sendable, Hashable, CustomStringConvertible {
        case int(Int)
        case double(Double)

        init?(_ value: JSONValue) {
            switch value {
            case .int(let int): self = .int(int)
            case .double(let double): self = .double(double)
            default: return nil
            }
        }

        var isPositive: Bool {
            switch self {
            case .int(let int): return int > 0
            case .double(let double): return double > 0
            }
        }

        /// As the schema wrote it: `3`, `0.5`, `1.0`.
        var description: String {
            switch self {
            case .int(let int): return String(int)
            case .double(let double): return JSONValue.formatDouble(double)
            }
        }

        /// Exact comparison, also between an integer and a double (as Python compares them).
        static func compare(_ lhs: Number, _ rhs: Number) -> ComparisonResult {
            switch (lhs, rhs) {
            case (.int(let a), .int(let b)): return a < b ? .less : a > b ? .greater : .equal
            case (.double(let a), .double(let b)): return a < b ? .less : a > b ? .greater : .equal
            case (.int(let a), .double(let b)): return compare(a, b)
            case (.double(let a), .int(let b)): return compare(b, a).reversed
            }
        }

        private static func compare(_ a: Int, _ b: Double) -> ComparisonResult {
            if b.isNaN { return .less }
            if b >= 0x1p63 { return .less }
            if b < -0x1p63 { return .greater }
            let floor = b.rounded(.down)
            let whole = Int(floor)  // exact: within Int's range and integral
            if a < whole { return .less }
            if a > whole { return .greater }
            return b > floor ? .less : .equal
        }

        /// Whether `self` is a multiple of `divisor` (which is positive), exactly as Python's
        /// `jsonschema` decides: for a floating-point divisor the quotient must come out whole
        /// in floating point (so `0.3` is *not* a multiple of `0.1`, as `0.3 / 0.1` is
        /// `2.9999999999999996`), for an integer divisor the remainder must be zero.
        func isMultiple(of divisor: Number) -> Bool {
            switch (self, divisor) {
            case (.int(let value), .int(let divisor)):
                return value % divisor == 0
            case (.double(let value), .int(let divisor)):
                return value.truncatingRemainder(dividingBy: Double(divisor)) == 0
            case (_, .double(let divisor)):
                let value: Double
                switch self {
                case .int(let int): value = Double(int)
                case .double(let double): value = double
                }
                let quotient = value / divisor
                if quotient.isFinite { return quotient.rounded(.towardZero) == quotient }
                // The quotient overflowed; Python falls back to exact fractions, and so do we.
                return Number.isExactMultiple(self, of: divisor)
            }
        }

        /// Exact rational check: with `value = m1 * 2^e1` and `divisor = m2 * 2^e2` (`m1`, `m2`
        /// odd), the quotient is whole exactly when `m2` divides `m1` and `e1 >= e2`.
        private static func isExactMultiple(_ value: Number, of divisor: Double) -> Bool {
            let (m2, e2) = oddMantissa(divisor)
            let (m1, e1): (UInt64, Int)
            switch value {
            case .int(let int):
                guard int != 0 else { return true }
                let magnitude = int.magnitude
                let zeros = magnitude.trailingZeroBitCount
                (m1, e1) = (UInt64(magnitude >> zeros), zeros)
            case .double(let double):
                guard double != 0 else { return true }
                (m1, e1) = oddMantissa(double)
            }
            return m2 != 0 && m1 % m2 == 0 && e1 >= e2
        }

        private static func oddMantissa(_ double: Double) -> (UInt64, Int) {
            var mantissa = double.significandBitPattern
            var exponent: Int
            if double.isNormal {
                mantissa |= 1 << 52
                exponent = Int(double.exponentBitPattern) - 1075
            } else {
                exponent = -1074
            }
            guard mantissa != 0 else { return (0, 0) }
            let zeros = mantissa.trailingZeroBitCount
            mantissa >>= zeros
            exponent += zeros
            return (mantissa, exponent)
        }
    }

    enum ComparisonResult {
        case less, equal, greater

        var reversed: ComparisonResult {
            switch self {
            case .less: return .greater
            case .equal: return .equal
            case .greater: return .less
            }
        }
    }

    /// JSON Schema equality (for `enum`, `const`, `uniqueItems`).
    static func isEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { isEqual($0, $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let index = b.index(forKey: key),
                    b.keys[index].unicodeScalars.elementsEqual(key.unicodeScalars),
                    isEqual(value, b.values[index])
                else { return false }
            }
            return true
        default:
            guard let a = Number(lhs), let b = Number(rhs) else { return false }
            return Number.compare(a, b) == .equal
        }
    }

    /// A hash consistent with `isEqual`, so `uniqueItems` need not compare every pair.
    static func equalityHash(_ value: JSONValue) -> Int {
        var hasher = Hasher()
        combine(value, into: &hasher)
        return hasher.finalize()
    }

    private static func combine(_ value: JSONValue, into hasher: inout Hasher) {
        switch value {
        case .null: hasher.combine(0)
        case .bool(let bool): hasher.combine(bool ? 1 : 2)
        case .int(let int):
            // Equal numbers must hash alike: hash integers and whole doubles through Double.
            hasher.combine(3)
            hasher.combine(Double(int))
        case .double(let double):
            hasher.combine(3)
            hasher.combine(double)
        case .string(let string):
            hasher.combine(4)
            for scalar in string.unicodeScalars { hasher.combine(scalar.value) }
        case .array(let items):
            hasher.combine(5)
            hasher.combine(items.count)
            for item in items { combine(item, into: &hasher) }
        case .object(let members):
            // Order-independent: sum the members' own hashes.
            hasher.combine(6)
            var sum = 0
            for (key, member) in members {
                var memberHasher = Hasher()
                for scalar in key.unicodeScalars { memberHasher.combine(scalar.value) }
                combine(member, into: &memberHasher)
                sum = sum &+ memberHasher.finalize()
            }
            hasher.combine(sum)
        }
    }
}
