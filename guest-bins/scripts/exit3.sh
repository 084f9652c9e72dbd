#!../build/exit_with 3 from-script
