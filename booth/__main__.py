from booth.cli.main import main

raise SystemExit(main())
