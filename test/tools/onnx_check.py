"""Validate an ONNX file with the official checker: prints OK, or the checker's error and exits 1.

Usage: python3 test/tools/onnx_check.py model.onnx
Needs the `onnx` Python package (Debian: apt-get install python3-onnx).
"""
import sys

import onnx
import onnx.checker


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: onnx_check.py model.onnx", file=sys.stderr)
        return 2
    try:
        onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
    except Exception as e:  # the checker raises ValidationError, shape inference InferenceError
        print(f"{type(e).__name__}: {e}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
