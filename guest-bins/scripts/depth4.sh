#!./depth3.sh
