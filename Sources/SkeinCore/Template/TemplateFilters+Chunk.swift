/// The `chunk(size)` filter: splits a long text into pieces of at most `size` characters
/// (Unicode scalars, as Python counts them) for map-reduce over long documents.
///
/// The algorithm packs greedily at the coarsest boundary that works:
/// 1. The text is divided into paragraphs at blank lines (a run of whitespace holding
///    two or more line breaks). Consecutive paragraphs go into one piece while it fits.
/// 2. A paragraph longer than `size` is divided the same way into sentences: a boundary
///    is whitespace after `.`, `!`, `?` or `…` (closing quotes and brackets may come
///    between), any line break, or right after `。`, `！`, `？`.
/// 3. A sentence longer than `size` is divided at any whitespace (words).
/// 4. A word longer than `size` is cut every `size` characters.
///
/// Every piece is trimmed of surrounding whitespace and none is empty; the text inside a
/// piece is unchanged (line breaks and spacing are kept). Concatenating the pieces gives
/// back the text's words in order.
struct TextChunker {
    var size: Int

    private enum Level {
        case paragraph, sentence, word, character

        var finer: Level {
            switch self {
            case .paragraph: return .sentence
            case .sentence: return .word
            case .word, .character: return .character
            }
        }
    }

    /// A part of a segment: `start..<contentEnd` is text, `contentEnd..<end` the whitespace after it.
    private struct Unit {
        var start: Int
        var contentEnd: Int
        var end: Int
    }

    func chunks(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        pack(scalars[...], level: .paragraph, into: &pieces)
        return pieces
    }

    private func pack(_ segment: ArraySlice<Unicode.Scalar>, level: Level, into pieces: inout [String]) {
        let text = TemplateText.trimmingWhitespace(segment)
        guard !text.isEmpty else { return }
        if text.count <= size {
            pieces.append(TemplateText.string(text))
            return
        }
        if level == .character {
            var start = text.startIndex
            while start < text.endIndex {
                let end = min(start + size, text.endIndex)
                let piece = TemplateText.trimmingWhitespace(text[start..<end])
                if !piece.isEmpty { pieces.append(TemplateText.string(piece)) }
                start = end
            }
            return
        }
        // The piece being filled is text[start..<contentEnd]; both ends are on text.
        var start = text.startIndex, contentEnd = text.startIndex
        for unit in units(of: text, at: level) {
            if unit.contentEnd - start <= size {
                contentEnd = unit.contentEnd
                continue
            }
            if contentEnd > start { pieces.append(TemplateText.string(text[start..<contentEnd])) }
            if unit.contentEnd - unit.start <= size {
                start = unit.start
                contentEnd = unit.contentEnd
            } else {
                pack(text[unit.start..<unit.contentEnd], level: level.finer, into: &pieces)
                start = unit.end
                contentEnd = unit.end
            }
        }
        if contentEnd > start { pieces.append(TemplateText.string(text[start..<contentEnd])) }
    }

    /// Divides trimmed text at the boundaries of `level`; the units cover it exactly.
    private func units(of text: ArraySlice<Unicode.Scalar>, at level: Level) -> [Unit] {
        var units: [Unit] = []
        var unitStart = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let scalar = text[index]
            if TemplateWhitespace.contains(scalar) {
                var runEnd = index
                var lineBreaks = 0
                while runEnd < text.endIndex && TemplateWhitespace.contains(text[runEnd]) {
                    if text[runEnd] == "\n" { lineBreaks += 1 }
                    runEnd += 1
                }
                let isBoundary: Bool
                switch level {
                case .paragraph: isBoundary = lineBreaks >= 2
                case .sentence: isBoundary = lineBreaks >= 1 || endsSentence(text[unitStart..<index])
                case .word, .character: isBoundary = true
                }
                if isBoundary {
                    units.append(Unit(start: unitStart, contentEnd: index, end: runEnd))
                    unitStart = runEnd
                }
                index = runEnd
            } else if level == .sentence && "。！？".unicodeScalars.contains(scalar)
                && index + 1 < text.endIndex && !TemplateWhitespace.contains(text[index + 1])
            {
                units.append(Unit(start: unitStart, contentEnd: index + 1, end: index + 1))
                unitStart = index + 1
                index += 1
            } else {
                index += 1
            }
        }
        if unitStart < text.endIndex {
            units.append(Unit(start: unitStart, contentEnd: text.endIndex, end: text.endIndex))
        }
        return units
    }

    /// True when text ends with sentence punctuation, possibly followed by closing quotes or brackets.
    private func endsSentence(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
        let closing = "\"')]}»”’".unicodeScalars
        let punctuation = ".!?…。！？".unicodeScalars
        var index = text.endIndex
        while index > text.startIndex && closing.contains(text[index - 1]) { index -= 1 }
        return index > text.startIndex && punctuation.contains(text[index - 1])
    }
}
