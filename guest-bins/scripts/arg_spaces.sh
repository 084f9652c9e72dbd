#!  ../build/echo_args 	  one  two	three 	 
# the argument is "one  two<TAB>three"
