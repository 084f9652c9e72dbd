#!./depth4.sh
