#!/usr/bin/env bash
# The rule that keeps a build from running an instruction its CPU lacks (common/cpu/kernels.h):
# an object file compiled with an instruction set's flags defines no symbol that another file could
# link to, other than in its own namespace sog::<isa>. A function of a shared header that the
# compiler emitted out of line there (a weak symbol: an inline function, a template instance)
# could be picked by the linker for every caller, and run AVX-512 code on an AVX2 CPU.
#
#   [NM=aarch64-linux-gnu-nm] tests/isa_symbols.sh avx2=a.o:b.o:… avx512=c.o:…
set -euo pipefail
(( $# > 0 )) || { echo "usage: isa_symbols.sh ISA=OBJ[:OBJ…] …"; exit 2; }
fail=0 checked=0
for arg in "$@"; do
  isa="${arg%%=*}"
  IFS=: read -r -a objects <<< "${arg#*=}"
  for obj in "${objects[@]}"; do
    # Global and weak definitions (upper-case types), demangled; the exception-handling personality
    # reference is data every C++ object file may carry.
    bad="$("${NM:-nm}" -C --defined-only "$obj" | awk '$2 ~ /^[A-Z]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }' |
           grep -v -E -e "^([^(]* )?sog::$isa::" -e '^DW\.ref\.__gxx_personality_v0$' || true)"
    checked=$((checked + 1))
    if [[ -n "$bad" ]]; then
      echo "$(basename "$obj") ($isa) defines symbols outside sog::$isa:"
      echo "$bad" | sed 's/^/  /'
      fail=1
    fi
  done
done
(( fail == 0 )) && echo "isa_symbols: $checked object files, each defines only its own instruction set's namespace"
exit "$fail"
