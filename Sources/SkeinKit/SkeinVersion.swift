/// The version of Skein.
public enum SkeinVersion {
    public static let current = "0.1.0-dev"
}
