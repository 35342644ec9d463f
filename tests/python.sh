# Sourced by tests/cli/lib.sh and tests/servers/harness_lib.sh: the tests'
# `python3` is Debian's /usr/bin/python3, the one scripts/setup-debian.sh
# installs their modules for (aiosmtpd, selenium). A python3 found earlier
# in PATH may start far slower: a pyenv shim took 0.77 s of CPU per start
# here against 0.06 s (bash and pyenv run before the interpreter), and the
# suite starts python3 hundreds of times. tests/bin holds only a python3
# link to /usr/bin/python3; without /usr/bin/python3, PATH stays as it is.
if [[ -x /usr/bin/python3 ]]; then
  _tests_python_bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/bin" && pwd)
  [[ ":$PATH:" == *":$_tests_python_bin:"* ]] || PATH="$_tests_python_bin:$PATH"
fi
