#!/work/main/guest-bins/build/t_proc_exec script-arg
echo not reached
