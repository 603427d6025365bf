"""Package metadata comes from settings.ini (nbdev 2 convention)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
req = lambda key: cfg.get(key, '').split()

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache-2.0',
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=['capdistill', 'capdistill.*']),
    include_package_data=True,
    install_requires=req('requirements'),
    extras_require={'dev': req('dev_requirements'), 'gpu': req('gpu_requirements'),
                    'tracking': req('tracking_requirements')},
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
