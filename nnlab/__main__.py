from nnlab.cli.main import main

raise SystemExit(main())
