// SkeinKit is the engine's I/O over the pure SkeinCore: a program that imports SkeinKit sees
// the pipeline model, templates and diagnostics as well, as it did before the split.
@_exported import SkeinCore
