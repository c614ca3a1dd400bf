from r1cli.app import main

main()
