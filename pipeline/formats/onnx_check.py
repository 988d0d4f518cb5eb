"""Validate ONNX files with the official checker (full_check: also runs strict shape inference).

Usage: python3 pipeline/formats/onnx_check.py model.onnx [more.onnx ...]
Prints "OK <path>" or "FAIL <path>: <error>" per file; exits 1 if any file fails. Prints "UNAVAILABLE <reason>" and
exits 3 when the `onnx` package cannot be imported (Debian: apt-get install python3-onnx).
"""
import sys

try:
    import onnx
    import onnx.checker
except Exception as e:  # ImportError, or a broken installation
    print(f"UNAVAILABLE {type(e).__name__}: {e}")
    sys.exit(3)


def check(path: str) -> bool:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:  # ValidationError from the checker, InferenceError from shape inference
        print(f"FAIL {path}: {type(e).__name__}: {e}")
        return False
    print(f"OK {path}")
    return True


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: onnx_check.py model.onnx [more.onnx ...]", file=sys.stderr)
        return 2
    print(f"VERSION {onnx.__version__}")
    results = [check(path) for path in sys.argv[1:]]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
