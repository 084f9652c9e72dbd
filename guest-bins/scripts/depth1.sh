#!../build/echo_args
