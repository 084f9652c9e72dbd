#!../build/echo_args
# CRLF line ending: the interpreter is "../build/echo_args\r"
