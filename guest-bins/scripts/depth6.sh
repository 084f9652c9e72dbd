#!./depth5.sh
