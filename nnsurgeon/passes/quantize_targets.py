"""The quantize step's auto-exclude options (declared here, used by :mod:`nnsurgeon.passes.quantize`; the
measuring is :mod:`nnsurgeon.runtime.auto_exclude`)."""
from ..errors import OptionError, opt
from .options import Option

AUTO_EXCLUDE = (
    Option("auto-exclude", "bool", False, "Keep the quantizers that cost the most at float (or fallback-bits), "
           "worst first, until min-sqnr / max-accuracy-drop holds. Needs calibrate."),
    Option("min-sqnr", "number", None, "auto-exclude target: lowest output SQNR in dB against the float model.",
           metavar="DB"),
    Option("max-accuracy-drop", "number", None, "auto-exclude target: largest accuracy drop in percentage points "
           "against the float model. Needs labels.", min=0, max=100, metavar="PT"),
    Option("labels", "path", None, "auto-exclude: class indices of the evaluation samples (.npy (N,) or one-hot "
           "(N, C), or .npz).", metavar="LABELS"),
    Option("eval-input", "path", None, "auto-exclude: data to measure on. Default: the calibration data.",
           metavar="DATA"),
    Option("fallback-bits", "int", None, "auto-exclude: keep the worst quantizers at these bits instead of float.",
           min=2, max=16),
)


def check_auto_exclude(opts) -> None:
    """The auto-exclude options make sense together (before any model is read)."""
    if not opts.auto_exclude:
        extra = [k for k in ("min-sqnr", "max-accuracy-drop", "labels", "eval-input", "fallback-bits")
                 if getattr(opts, k.replace("-", "_")) is not None]
        if extra:
            raise OptionError(f"{', '.join(opt(k) for k in extra)} only apply with {opt('auto-exclude')}")
        return
    if opts.calibrate is None:
        raise OptionError(f"{opt('auto-exclude')} needs {opt('calibrate')} DATA: it measures calibrated quantizers")
    if opts.min_sqnr is None and opts.max_accuracy_drop is None:
        raise OptionError(f"{opt('auto-exclude')} needs a target: {opt('min-sqnr')} DB and/or "
                          f"{opt('max-accuracy-drop')} PT")
    if opts.max_accuracy_drop is not None and opts.labels is None:
        raise OptionError(f"{opt('max-accuracy-drop')} needs {opt('labels')} (class indices of the evaluation data)")
