from ctmirror.cli import main

main()
