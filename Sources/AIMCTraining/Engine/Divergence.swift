import Foundation

/// When a training run counts as diverged, so that it stops early and says so (exit status 3, `diverged: true` in
/// summary.json).
///
/// An epoch diverged when its mean training loss or its test loss is not finite (NaN or infinite weights or
/// activations), or when its mean training loss exceeds `factor` x ln(classes): 1000 times the cross-entropy of a
/// uniform guess (ln 10 = 2.30 for ten classes, so the bound is 2303). A network that learns stays near or below
/// ln(classes); a loss three orders of magnitude above it comes from weights pushed far out of range (a learning
/// rate far too large), not from a slow start.
public enum Divergence {
    public static let factor = 1000.0

    /// The loss bound for `classes` classes: 1000 ln(classes).
    public static func bound(classes: Int) -> Double { factor * log(Double(max(classes, 2))) }

    /// Why epoch `m` diverged ("its mean training loss 4.9e+05 exceeds 1000 ln(10) = 2303"), or nil.
    public static func reason(_ m: EpochMetrics, classes: Int) -> String? {
        if !m.trainLoss.isFinite { return "the mean training loss of epoch \(m.epoch) is \(m.trainLoss) (not finite)" }
        if !m.testLoss.isFinite { return "the test loss after epoch \(m.epoch) is \(m.testLoss) (not finite)" }
        let b = bound(classes: classes)
        if m.trainLoss > b {
            return String(format: "the mean training loss of epoch %ld is %.3g, above %g ln(%ld) = %.0f", m.epoch, m.trainLoss, factor, classes, b)
        }
        return nil
    }
}
