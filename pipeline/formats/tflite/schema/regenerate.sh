#!/usr/bin/env bash
# Regenerates schema_generated.ts (the TFLite FlatBuffer schema as TypeScript) from schema.fbs.
#
# schema.fbs is TensorFlow's TFLite schema (Apache-2.0, header kept), unmodified: the copy at
# tensorflow/compiler/mlir/lite/schema/schema.fbs as synced into github.com/tensorflow/tflite-micro at commit
# 90b983c2b3f1480642e040bbd2ddb37b998f3424. To update: replace schema.fbs with a newer copy, run this script,
# commit both. New schema fields are added at the end of tables, so files written with it stay readable by older
# runtimes as long as the exporter emits only ops and fields they know.
# Needs flatc 2.0.8 (Debian: apt-get install flatbuffers-compiler); the output builds with the npm
# `flatbuffers` runtime 2.0.7, the one flatc 2.0.8 generates for. flatc 2.0.8 rejects the `(deprecated)`
# attribute on enum values and union members (newer schemas mark REDUCE_WINDOW and ReduceWindowOptions so),
# so those are stripped from a temporary copy first; deprecated *fields* keep it (flatc handles those).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(flatc --version)"
[ "$version" = "flatc version 2.0.8" ] || { echo "regenerate.sh: need flatc 2.0.8, found: $version" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed -E 's/[[:space:]]*\(deprecated\)[[:space:]]*,/,/' "$here/schema.fbs" > "$tmp/schema.fbs"
flatc --ts --ts-flat-files -o "$tmp/out" "$tmp/schema.fbs"
# Verbatim: the output type-checks under this repository's strict tsconfig as it is.
cp "$tmp/out/schema_generated.ts" "$here/schema_generated.ts"
echo "wrote $here/schema_generated.ts"
