# Exit statuses of external commands as a shell reports them.
sh -c 'exit 3'; echo "exit 3: $?"
sh -c 'exit 255'; echo "exit 255: $?"
sh -c 'kill -9 $$'; echo "SIGKILL: $?"
sh -c 'kill -TERM $$'; echo "SIGTERM: $?"
sh -c 'kill -SEGV $$'; echo "SIGSEGV: $?"
/bin/busybox false; echo "false: $?"
./no-such-command 2>/dev/null; echo "missing: $?"
printf 'echo hi\n' > notexec.sh; chmod 644 notexec.sh
./notexec.sh 2>/dev/null; echo "not executable: $?"
printf '#!/bin/busybox sh\necho "script args: $*"; exit 4\n' > script.sh; chmod 755 script.sh
./script.sh a b; echo "script: $?"
printf 'echo no shebang, run by the shell\n' > plain.sh; chmod 755 plain.sh
./plain.sh; echo "plain: $?"
if sh -c 'exit 1'; then echo yes; else echo "if saw failure"; fi
sh -c 'exit 2' || echo "or-list ran: $?"
