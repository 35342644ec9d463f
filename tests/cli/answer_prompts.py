# answer_prompts.py ANSWER... -- COMMAND ARGS: runs COMMAND on a
# pseudo-terminal and types each ANSWER (and a newline) at the next prompt
# ending in ':'; prints what the terminal showed and exits with COMMAND's
# status (for the tests of passphrase prompts).
import os, pty, select, sys
sep = sys.argv.index("--")
answers, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
out, seen = b"", 0
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:  # stuck: stop it rather than hang the test
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if answers and out[seen:].rstrip().endswith(b":"):
        seen = len(out)
        os.write(fd, answers.pop(0).encode() + b"\n")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
